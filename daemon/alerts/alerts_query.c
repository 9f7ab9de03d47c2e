/* Alert history over the API: lists with filters, one alert with its events and deliveries,
 * ack and silence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts/alerts_int.h"
#include "ioc/error.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 1000

typedef struct qctx {
    alerts_t *a;
    alerts_reply_fn reply;
    void *ud;
    cJSON *doc; /* alerts_get: the alert, waiting for its deliveries */
} qctx_t;

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

int alerts_parse_time(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
    int64_t frac = 0, off = 0;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return IOC_EINVAL;
    if (*p == 'T' || *p == 't' || (*p == ' ' && p[1] >= '0' && p[1] <= '9' && p[3] == ':')) {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return IOC_EINVAL;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return IOC_EINVAL;
            if (*p == '.') {
                int64_t scale = 100000;
                if (*++p < '0' || *p > '9')
                    return IOC_EINVAL;
                for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
                    frac += (*p - '0') * scale;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-' || *p == ' ') {
            int sign = *p++ == '-' ? -1 : 1;
            if (digits(&p, 2, &oh))
                return IOC_EINVAL;
            if (*p == ':')
                p++;
            if (*p && digits(&p, 2, &om))
                return IOC_EINVAL;
            if (oh > 23 || om > 59)
                return IOC_EINVAL;
            off = sign * ((int64_t)oh * 3600 + om * 60);
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return IOC_EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (tm.tm_mday != d)
        return IOC_EINVAL;
    *out = ((int64_t)t - off) * 1000000 + frac;
    return IOC_OK;
}

static qctx_t *qctx_new(alerts_t *a, alerts_reply_fn reply, void *ud)
{
    qctx_t *q = calloc(1, sizeof *q);
    if (!q) {
        reply(ud, 500, alerts_err_json(NULL, "out of memory"));
        return NULL;
    }
    q->a = a;
    q->reply = reply;
    q->ud = ud;
    return q;
}

/* Sends a query whose callback is cb; answers 503 when the database is not there. */
static void run(qctx_t *q, const char *sql, int n, const char *const *p, adb_cb cb)
{
    int rc = q->a->db ? adb_send(q->a->db, sql, n, p, false, cb, q) : IOC_EDB;
    if (rc) {
        q->reply(q->ud, 503, alerts_err_json(NULL, "database unavailable, try again"));
        cJSON_Delete(q->doc);
        free(q);
    }
}

/* A stored alert document, or for an active alert the live one (its latest value). */
static cJSON *live_doc(const alerts_t *a, const char *text)
{
    cJSON *d = cJSON_Parse(text);
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "state"));
    if (a && st && (!strcmp(st, "pending") || !strcmp(st, "firing"))) {
        double id = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "id"));
        const alerts_slot_t *s = alerts_slot_by_id(a, (int64_t)id);
        cJSON *live = s ? alerts_doc(s) : NULL;
        if (live) {
            cJSON_Delete(d);
            d = live;
        }
    }
    return d;
}

/* Rows whose first column is a JSON document, as an array (alerts live when a is given). */
static cJSON *doc_rows(const alerts_t *a, PGresult *res)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < PQntuples(res); i++) {
        cJSON *d = live_doc(a, PQgetvalue(res, i, 0));
        if (d)
            cJSON_AddItemToArray(arr, d);
    }
    return arr;
}

static void on_docs(void *ud, int status, PGresult *res)
{
    qctx_t *q = ud;
    if (status || !res)
        q->reply(q->ud, 503, alerts_err_json(NULL, "database error"));
    else
        q->reply(q->ud, 200, doc_rows(q->a, res));
    free(q);
}

static void limit_text(char *buf, size_t len, int limit)
{
    snprintf(buf, len, "%d", limit <= 0 ? DEFAULT_LIMIT : limit > MAX_LIMIT ? MAX_LIMIT : limit);
}

void alerts_list(alerts_t *a, const alerts_filter_t *f, alerts_reply_fn reply, void *ud)
{
    static const char *const states[] = {"pending", "firing", "resolved", "cancelled",
                                         "active", "acked", NULL};
    char since[40], limit[16];
    bool ok = !f->state;
    for (int i = 0; !ok && states[i]; i++)
        ok = strcmp(f->state, states[i]) == 0;
    if (!ok) {
        reply(ud, 400, alerts_err_json("state", "expected pending, firing, resolved, cancelled, "
                                                "active or acked"));
        return;
    }
    qctx_t *q = qctx_new(a, reply, ud);
    if (!q)
        return;
    limit_text(limit, sizeof limit, f->limit);
    const char *p[] = {f->state, f->rule, f->group,
                       f->since_us ? (alerts_iso(since, sizeof since, f->since_us), since) : NULL,
                       limit};
    run(q,
        "SELECT doc FROM alerts WHERE"
        " ($1::text IS NULL OR state = $1 OR ($1 = 'active' AND state IN ('pending', 'firing'))"
        "  OR ($1 = 'acked' AND state IN ('pending', 'firing') AND doc->'acked' <> 'null'))"
        " AND ($2::text IS NULL OR rule_id = $2) AND ($3::text IS NULL OR grp = $3)"
        " AND ($4::timestamptz IS NULL OR coalesce(resolved_at, 'infinity') >= $4)"
        " ORDER BY id DESC LIMIT $5::int",
        5, p, on_docs);
}

static void on_events(void *ud, int status, PGresult *res)
{
    qctx_t *q = ud;
    if (status || !res) {
        q->reply(q->ud, 503, alerts_err_json(NULL, "database error"));
        free(q);
        return;
    }
    q->reply(q->ud, 200, doc_rows(NULL, res));
    free(q);
}

static const char events_sql[] =
    "SELECT json_build_object('alert', alert_id, 'rule', rule_id, 'group', grp, 'ts',"
    " to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'event', event,"
    " 'state', state, 'value', value, 'who', who, 'comment', comment)"
    " FROM alert_events WHERE ($1::bigint IS NULL OR alert_id = $1)"
    " AND ($2::text IS NULL OR rule_id = $2) AND ($3::text IS NULL OR grp = $3)"
    " AND ($4::text IS NULL OR event = $4) AND ($5::timestamptz IS NULL OR ts >= $5)"
    " ORDER BY id DESC LIMIT $6::int";

void alerts_events(alerts_t *a, const alerts_filter_t *f, alerts_reply_fn reply, void *ud)
{
    char id[32], since[40], limit[16];
    qctx_t *q = qctx_new(a, reply, ud);
    if (!q)
        return;
    snprintf(id, sizeof id, "%lld", (long long)f->alert_id);
    limit_text(limit, sizeof limit, f->limit);
    const char *p[] = {f->alert_id ? id : NULL, f->rule, f->group, f->state,
                       f->since_us ? (alerts_iso(since, sizeof since, f->since_us), since) : NULL,
                       limit};
    run(q, events_sql, 6, p, on_events);
}

static void on_deliveries(void *ud, int status, PGresult *res)
{
    qctx_t *q = ud;
    if (status || !res) {
        q->reply(q->ud, 503, alerts_err_json(NULL, "database error"));
    } else {
        cJSON_AddItemToObject(q->doc, "deliveries", doc_rows(NULL, res));
        q->reply(q->ud, 200, q->doc);
        q->doc = NULL;
    }
    cJSON_Delete(q->doc);
    free(q);
}

static void on_one_events(void *ud, int status, PGresult *res)
{
    qctx_t *q = ud;
    char id[32];
    if (status || !res) {
        q->reply(q->ud, 503, alerts_err_json(NULL, "database error"));
        cJSON_Delete(q->doc);
        free(q);
        return;
    }
    cJSON_AddItemToObject(q->doc, "events", doc_rows(NULL, res));
    snprintf(id, sizeof id, "%lld", (long long)cJSON_GetNumberValue(
                                        cJSON_GetObjectItemCaseSensitive(q->doc, "id")));
    const char *p[] = {id};
    run(q,
        "SELECT json_build_object('channel', channel, 'target', target, 'event', event,"
        " 'attempt', attempt, 'ok', ok, 'status', status, 'error', error, 'ts',"
        " to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
        " FROM alert_deliveries WHERE alert_id = $1 ORDER BY id LIMIT 1000",
        1, p, on_deliveries);
}

static void on_one(void *ud, int status, PGresult *res)
{
    qctx_t *q = ud;
    char id[32];
    if (status || !res) {
        q->reply(q->ud, 503, alerts_err_json(NULL, "database error"));
        free(q);
        return;
    }
    if (PQntuples(res) == 0) {
        q->reply(q->ud, 404, alerts_err_json(NULL, "no such alert"));
        free(q);
        return;
    }
    q->doc = live_doc(q->a, PQgetvalue(res, 0, 0));
    if (!q->doc) {
        q->reply(q->ud, 500, alerts_err_json(NULL, "stored alert unreadable"));
        free(q);
        return;
    }
    snprintf(id, sizeof id, "%lld", (long long)cJSON_GetNumberValue(
                                        cJSON_GetObjectItemCaseSensitive(q->doc, "id")));
    const char *p[] = {id};
    run(q,
        "SELECT json_build_object('ts', to_char(ts AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'event', event, 'state', state, 'value', value,"
        " 'who', who, 'comment', comment) FROM alert_events WHERE alert_id = $1 ORDER BY id",
        1, p, on_one_events);
}

void alerts_get(alerts_t *a, int64_t id, alerts_reply_fn reply, void *ud)
{
    char ids[32];
    qctx_t *q = qctx_new(a, reply, ud);
    if (!q)
        return;
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *p[] = {ids};
    run(q, "SELECT doc FROM alerts WHERE id = $1", 1, p, on_one);
}

/* The active (or latest) episode's slot, or an answer saying why not. */
static alerts_slot_t *find_slot(alerts_t *a, int64_t id, bool active, alerts_reply_fn reply,
                                void *ud)
{
    alerts_slot_t *s = alerts_slot_by_id(a, id);
    if (!s) {
        reply(ud, 404, alerts_err_json(NULL, "no such alert (or it is no longer the latest of "
                                             "its rule and group)"));
        return NULL;
    }
    if (active && s->sm.state == AST_OK) {
        reply(ud, 409, alerts_err_json(NULL, "the alert is not active"));
        return NULL;
    }
    return s;
}

void alerts_ack(alerts_t *a, int64_t id, const char *who, const char *comment,
                alerts_reply_fn reply, void *ud)
{
    alerts_slot_t *s = find_slot(a, id, true, reply, ud);
    if (!s)
        return;
    char *by = strdup(who), *c = strdup(comment ? comment : "");
    if (!by || !c) {
        free(by);
        free(c);
        reply(ud, 500, alerts_err_json(NULL, "out of memory"));
        return;
    }
    alert_sm_ack(&s->sm);
    free(s->acked_by);
    free(s->ack_comment);
    s->acked_by = by;
    s->ack_comment = c;
    s->acked_at = alerts_now();
    alerts_record(a, s, "ack", who, comment);
    reply(ud, 200, alerts_doc(s));
}

void alerts_silence(alerts_t *a, int64_t id, const char *who, int64_t until_us,
                    alerts_reply_fn reply, void *ud)
{
    char until[40];
    alerts_slot_t *s = find_slot(a, id, false, reply, ud);
    if (!s)
        return;
    if (until_us && until_us <= alerts_now()) {
        reply(ud, 422, alerts_err_json("until", "must be in the future"));
        return;
    }
    alert_sm_silence(&s->sm, until_us);
    free(s->silenced_by);
    s->silenced_by = until_us ? strdup(who) : NULL;
    if (until_us)
        alerts_iso(until, sizeof until, until_us);
    alerts_record(a, s, until_us ? "silence" : "unsilence", who, until_us ? until : NULL);
    reply(ud, 200, alerts_doc(s));
}
