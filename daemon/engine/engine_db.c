/* The engine's database side: its own connection, warm-up from rollups and raw samples, rollups
 * flushed idempotently (1m upserted, 1h and 1d recomputed from them), and history queries. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/strbuf.h"
#include "engine/engine_int.h"
#include "ingest/series.h"
#include "ioc/error.h"
#include "store/pg_conn.h"

#define FLUSH_EVERY_US (5LL * 1000000)
#define CHUNK_US (60LL * 1000000)   /* warm-up reads raw samples a minute at a time */
#define MAX_QUERIES 32              /* history queries waiting for the connection */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
#define WARM_RETRIES 60             /* the store may still be migrating: retry, then go live */
#define CLOSE_TIMEOUT_MS 3000
#define SQL_LIMIT (64u << 20)

typedef enum phase { PH_ROLLUPS, PH_SERIES, PH_SAMPLES, PH_LIVE } phase_t;
typedef enum cmd { CMD_NONE, CMD_WARM, CMD_QUERY, CMD_FLUSH_1M, CMD_FLUSH_1H, CMD_FLUSH_1D } cmd_t;

typedef struct query {
    char params[5][160];
    int table; /* 0: 1m, 1: 1h, 2: 1d */
    engine_series_cb cb;
    void *ud;
} query_t;

typedef struct wseries {
    long long id;
    char *metric, *tags;
} wseries_t;

struct eng_db {
    engine_t *e;
    char *dsn;
    pg_conn_t *conn;
    bool connected;
    cmd_t cmd;             /* the command in flight */
    uv_timer_t timer;      /* reconnect and warm-up retries */
    uint64_t backoff_ms;
    phase_t phase;
    int warm_retries;
    int64_t warm_from, warm_to, chunk;
    wseries_t *ws;         /* series of the indicators' metrics, sorted by id */
    size_t nws;
    query_t queries[MAX_QUERIES];
    size_t qhead, qcount;
    query_t cur;           /* the query in flight */
    int64_t next_flush;
    int64_t flush_lo, flush_hi; /* minutes the flush in flight touched */
    eng_minute_t **flushed;
    size_t nflushed, capflushed;
    bool closing;
    uv_timer_t close_timer;
    int handles;
    void (*done)(void *ud);
    void *done_ud;
};

static void pump(eng_db_t *db);
static void start_connect(eng_db_t *db);
static void on_timer(uv_timer_t *t);
static void finish(eng_db_t *db);

/* Time in seconds as SQL to_timestamp() takes it. */
static void secs(char *buf, size_t len, int64_t us)
{
    snprintf(buf, len, "%.6f", (double)us / 1e6);
}

static int db_send(eng_db_t *db, cmd_t cmd, const char *sql, int n, const char *const *vals,
                pg_result_cb cb)
{
    if (pg_conn_send(db->conn, sql, n, NULL, vals, NULL, NULL, cb, db))
        return IOC_EDB;
    db->cmd = cmd;
    return IOC_OK;
}

static const char *metric_list(eng_db_t *db, strbuf_t *sb)
{
    engine_t *e = db->e;
    strbuf_puts(sb, "{");
    for (size_t i = 0; i < e->ninds; i++)
        for (size_t t = 0; t < expr_nterms(e->inds[i].expr); t++) {
            const char *m = expr_term(e->inds[i].expr, t)->metric;
            strbuf_puts(sb, sb->len > 1 ? ",\"" : "\"");
            for (; *m; m++) {
                if (*m == '"' || *m == '\\')
                    strbuf_append(sb, "\\", 1);
                strbuf_append(sb, m, 1);
            }
            strbuf_puts(sb, "\"");
        }
    strbuf_puts(sb, "}");
    return sb->overflow ? NULL : sb->data;
}

static void warm_retry(eng_db_t *db, const char *what, PGresult *res)
{
    char q[256];
    log_info("engine", "event=warmup_retry step=%s error=%s", what,
             log_q(q, sizeof q, res ? PQresultErrorMessage(res) : "send failed"));
    if (++db->warm_retries >= WARM_RETRIES) {
        log_error("engine", "event=warmup_abandoned detail=\"windows start empty\"");
        db->phase = PH_LIVE;
        return;
    }
    uv_timer_start(&db->timer, on_timer, RETRY_MIN_MS, 0);
}

static int cmp_ws(const void *a, const void *b)
{
    long long x = ((const wseries_t *)a)->id, y = ((const wseries_t *)b)->id;
    return x < y ? -1 : x > y;
}

static void free_ws(eng_db_t *db)
{
    for (size_t i = 0; i < db->nws; i++) {
        free(db->ws[i].metric);
        free(db->ws[i].tags);
    }
    free(db->ws);
    db->ws = NULL;
    db->nws = 0;
}

/* jsonb text of the tags to iocd's canonical tags JSON (keys sorted, compact). */
static char *canonical_tags(const char *jsonb)
{
    cJSON *o = cJSON_Parse(jsonb);
    ioc_tag_t tags[64];
    size_t n = 0;
    char *out = NULL, buf[8192];
    for (cJSON *it = o ? o->child : NULL; it && n < 64; it = it->next)
        if (cJSON_IsString(it))
            tags[n++] = (ioc_tag_t){.key = it->string, .value = it->valuestring};
    if (o && series_tags_json(tags, n, buf, sizeof buf) == 0)
        out = strdup(buf);
    cJSON_Delete(o);
    return out;
}

static void restore_minute(eng_group_t *g, int64_t m, PGresult *res, int row)
{
    eng_minute_t *mi = &g->minutes[m % ENG_MINUTES];
    bool has = !PQgetisnull(res, row, 3);
    double v = has ? strtod(PQgetvalue(res, row, 3), NULL) : 0;
    uint64_t count = strtoull(PQgetvalue(res, row, 4), NULL, 10);
    uint32_t ticks = has ? (uint32_t)strtoul(PQgetvalue(res, row, 7), NULL, 10) : 0;
    double mn = has ? strtod(PQgetvalue(res, row, 5), NULL) : 0;
    double mx = has ? strtod(PQgetvalue(res, row, 6), NULL) : 0;
    if (mi->minute > m)
        return;
    if (mi->minute < m)
        *mi = (eng_minute_t){.minute = m};
    mi->count += count;
    if (ticks) {
        mi->min = mi->ticks && mi->min < mn ? mi->min : mn;
        mi->max = mi->ticks && mi->max > mx ? mi->max : mx;
        mi->sum_v += v * ticks;
        mi->ticks += ticks;
    }
}

static void on_warm_rollups(void *ud, int status, PGresult *res)
{
    eng_db_t *db = ud;
    db->cmd = CMD_NONE;
    if (status) {
        warm_retry(db, "rollups", res);
        return;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        eng_ind_t *ind = eng_ind_find(db->e, PQgetvalue(res, r, 0));
        eng_group_t *g = ind ? eng_group_find(ind, PQgetvalue(res, r, 1), true) : NULL;
        if (g)
            restore_minute(g, strtoll(PQgetvalue(res, r, 2), NULL, 10), res, r);
    }
    db->phase = PH_SERIES;
    pump(db);
}

static void on_warm_series(void *ud, int status, PGresult *res)
{
    eng_db_t *db = ud;
    db->cmd = CMD_NONE;
    if (status) {
        warm_retry(db, "series", res);
        return;
    }
    free_ws(db);
    int n = PQntuples(res);
    if (n && !(db->ws = calloc((size_t)n, sizeof *db->ws))) {
        db->phase = PH_LIVE;
        pump(db);
        return;
    }
    for (int r = 0; r < n; r++) {
        wseries_t *w = &db->ws[db->nws];
        w->id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        w->metric = strdup(PQgetvalue(res, r, 1));
        w->tags = canonical_tags(PQgetvalue(res, r, 2));
        if (w->metric && w->tags)
            db->nws++;
        else {
            free(w->metric);
            free(w->tags);
        }
    }
    if (db->nws)
        qsort(db->ws, db->nws, sizeof *db->ws, cmp_ws);
    db->phase = db->nws ? PH_SAMPLES : PH_LIVE;
    db->chunk = db->warm_from;
    pump(db);
}

static void on_warm_samples(void *ud, int status, PGresult *res)
{
    eng_db_t *db = ud;
    engine_t *e = db->e;
    db->cmd = CMD_NONE;
    if (status) {
        warm_retry(db, "samples", res);
        return;
    }
    if (!e->manual_clock)
        e->now_us = eng_now(e);
    for (int r = 0; r < PQntuples(res); r++) {
        wseries_t key = {.id = strtoll(PQgetvalue(res, r, 0), NULL, 10)};
        wseries_t *w = bsearch(&key, db->ws, db->nws, sizeof *db->ws, cmp_ws);
        if (w)
            eng_feed_key(e, w->metric, w->tags, strtoll(PQgetvalue(res, r, 1), NULL, 10),
                         strtod(PQgetvalue(res, r, 2), NULL), true);
    }
    db->chunk += CHUNK_US;
    if (db->chunk >= db->warm_to) {
        log_info("engine", "event=warmed_up series=%zu", db->nws);
        free_ws(db);
        db->phase = PH_LIVE;
        eng_run_tick(e);
    }
    pump(db);
}

static int warm_step(eng_db_t *db)
{
    char p1[40], p2[40];
    const char *vals[3];
    int rc;
    if (db->phase == PH_ROLLUPS) {
        secs(p1, sizeof p1, db->warm_to - (int64_t)ENG_MINUTES * 60 * 1000000);
        vals[0] = p1;
        return db_send(db, CMD_WARM, "SELECT indicator, grp, (extract(epoch FROM ts) / 60)::bigint,"
                    " value, count, min, max, ticks FROM rollup_1m"
                    " WHERE ts >= to_timestamp($1::float8)", 1, vals, on_warm_rollups);
    }
    strbuf_t sb;
    strbuf_init(&sb, SQL_LIMIT);
    vals[0] = metric_list(db, &sb);
    if (!vals[0]) {
        strbuf_free(&sb);
        return IOC_ENOMEM;
    }
    if (db->phase == PH_SERIES) {
        rc = db_send(db, CMD_WARM, "SELECT id, metric, tags::text FROM series"
                  " WHERE metric = ANY($1::text[])", 1, vals, on_warm_series);
    } else {
        int64_t hi = db->chunk + CHUNK_US < db->warm_to ? db->chunk + CHUNK_US : db->warm_to;
        secs(p1, sizeof p1, db->chunk);
        secs(p2, sizeof p2, hi);
        vals[1] = p1;
        vals[2] = p2;
        rc = db_send(db, CMD_WARM, "SELECT series_id, (extract(epoch FROM ts) * 1000000)::bigint,"
                  " value FROM samples WHERE series_id IN"
                  " (SELECT id FROM series WHERE metric = ANY($1::text[]))"
                  " AND ts >= to_timestamp($2::float8) AND ts < to_timestamp($3::float8)"
                  " ORDER BY ts", 3, vals, on_warm_samples);
    }
    strbuf_free(&sb);
    return rc;
}

/* A text[] or float8[] element of an array literal. */
static void arr_str(strbuf_t *sb, const char *s)
{
    strbuf_puts(sb, sb->len && sb->data[sb->len - 1] != '{' ? ",\"" : "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            strbuf_append(sb, "\\", 1);
        strbuf_append(sb, s, 1);
    }
    strbuf_puts(sb, "\"");
}

static void arr_num(strbuf_t *sb, bool has, double v)
{
    const char *sep = sb->len && sb->data[sb->len - 1] != '{' ? "," : "";
    if (has)
        strbuf_printf(sb, "%s%.17g", sep, v);
    else
        strbuf_printf(sb, "%sNULL", sep);
}

static int remember(eng_db_t *db, eng_minute_t *mi)
{
    if (db->nflushed == db->capflushed) {
        size_t cap = db->capflushed ? db->capflushed * 2 : 256;
        eng_minute_t **n = realloc(db->flushed, cap * sizeof *n);
        if (!n)
            return IOC_ENOMEM;
        db->flushed = n;
        db->capflushed = cap;
    }
    db->flushed[db->nflushed++] = mi;
    return IOC_OK;
}

static void add_rows(eng_db_t *db, eng_ind_t *ind, eng_group_t *g, strbuf_t *a)
{
    for (int s = 0; s < ENG_MINUTES; s++) {
        eng_minute_t *mi = &g->minutes[s];
        if (!mi->dirty || mi->minute < 0 || remember(db, mi))
            continue;
        mi->dirty = false;
        bool has = mi->ticks > 0;
        arr_str(&a[0], ind->id);
        arr_str(&a[1], g->name);
        arr_num(&a[2], true, (double)mi->minute * 60);
        arr_num(&a[3], has, has ? mi->sum_v / mi->ticks : 0);
        arr_num(&a[4], true, (double)mi->count);
        arr_num(&a[5], has, mi->min);
        arr_num(&a[6], has, mi->max);
        arr_num(&a[7], true, mi->ticks);
        if (mi->minute < db->flush_lo)
            db->flush_lo = mi->minute;
        if (mi->minute > db->flush_hi)
            db->flush_hi = mi->minute;
    }
}

static void flush_failed(eng_db_t *db, PGresult *res)
{
    char q[256];
    log_warn("engine", "event=rollup_flush_failed error=%s",
             log_q(q, sizeof q, res ? PQresultErrorMessage(res) : "send failed"));
    for (size_t i = 0; i < db->nflushed; i++)
        db->flushed[i]->dirty = true;
    db->nflushed = 0;
}

static const char sql_1h[] =
    "INSERT INTO rollup_1h (indicator, grp, ts, value, count, min, max, ticks)"
    " SELECT indicator, grp, date_trunc('hour', ts, 'UTC'),"
    " sum(value * ticks) / nullif(sum(ticks) FILTER (WHERE value IS NOT NULL), 0),"
    " sum(count), min(min), max(max), sum(ticks) FROM rollup_1m"
    " WHERE ts >= to_timestamp($1::float8) AND ts < to_timestamp($2::float8) GROUP BY 1, 2, 3"
    " ON CONFLICT (indicator, grp, ts) DO UPDATE SET value = EXCLUDED.value,"
    " count = EXCLUDED.count, min = EXCLUDED.min, max = EXCLUDED.max, ticks = EXCLUDED.ticks";
static const char sql_1d[] =
    "INSERT INTO rollup_1d (indicator, grp, ts, value, count, min, max, ticks)"
    " SELECT indicator, grp, date_trunc('day', ts, 'UTC'),"
    " sum(value * ticks) / nullif(sum(ticks) FILTER (WHERE value IS NOT NULL), 0),"
    " sum(count), min(min), max(max), sum(ticks) FROM rollup_1h"
    " WHERE ts >= to_timestamp($1::float8) AND ts < to_timestamp($2::float8) GROUP BY 1, 2, 3"
    " ON CONFLICT (indicator, grp, ts) DO UPDATE SET value = EXCLUDED.value,"
    " count = EXCLUDED.count, min = EXCLUDED.min, max = EXCLUDED.max, ticks = EXCLUDED.ticks";

static void on_flushed(void *ud, int status, PGresult *res)
{
    eng_db_t *db = ud;
    cmd_t was = db->cmd;
    char p1[40], p2[40];
    const char *vals[2] = {p1, p2};
    db->cmd = CMD_NONE;
    if (status) {
        flush_failed(db, res);
        pump(db);
        return;
    }
    db->nflushed = 0;
    if (was == CMD_FLUSH_1M) {
        int64_t lo = db->flush_lo / 60 * 60, hi = (db->flush_hi / 60 + 1) * 60;
        secs(p1, sizeof p1, lo * 60 * 1000000);
        secs(p2, sizeof p2, hi * 60 * 1000000);
        if (db_send(db, CMD_FLUSH_1H, sql_1h, 2, vals, on_flushed) == 0)
            return;
    } else if (was == CMD_FLUSH_1H) {
        int64_t lo = db->flush_lo / 1440 * 1440, hi = (db->flush_hi / 1440 + 1) * 1440;
        secs(p1, sizeof p1, lo * 60 * 1000000);
        secs(p2, sizeof p2, hi * 60 * 1000000);
        if (db_send(db, CMD_FLUSH_1D, sql_1d, 2, vals, on_flushed) == 0)
            return;
    }
    pump(db);
}

/* Upserts every dirty minute in one statement. Returns 0 if sent, IOC_ENOTFOUND if nothing is
 * dirty. */
static int flush(eng_db_t *db)
{
    engine_t *e = db->e;
    strbuf_t a[8];
    const char *vals[8];
    int rc = IOC_ENOTFOUND;
    for (int i = 0; i < 8; i++) {
        strbuf_init(&a[i], SQL_LIMIT);
        strbuf_puts(&a[i], "{");
    }
    db->flush_lo = INT64_MAX;
    db->flush_hi = INT64_MIN;
    db->nflushed = 0;
    for (size_t i = 0; i < e->ninds; i++) {
        eng_ind_t *ind = &e->inds[i];
        for (size_t g = 0; g < ind->ngroups; g++)
            add_rows(db, ind, ind->groups[g], a);
        add_rows(db, ind, ind->total, a);
    }
    for (int i = 0; i < 8; i++) {
        strbuf_puts(&a[i], "}");
        vals[i] = a[i].data;
        if (a[i].overflow)
            rc = IOC_ENOMEM;
    }
    if (rc == IOC_ENOMEM)
        flush_failed(db, NULL);
    else if (db->nflushed) {
        rc = db_send(db, CMD_FLUSH_1M,
                  "INSERT INTO rollup_1m (indicator, grp, ts, value, count, min, max, ticks)"
                  " SELECT i, g, to_timestamp(t), v, c, mn, mx, n FROM unnest($1::text[],"
                  " $2::text[], $3::float8[], $4::float8[], $5::bigint[], $6::float8[],"
                  " $7::float8[], $8::int[]) AS u(i, g, t, v, c, mn, mx, n)"
                  " ON CONFLICT (indicator, grp, ts) DO UPDATE SET value = EXCLUDED.value,"
                  " count = EXCLUDED.count, min = EXCLUDED.min, max = EXCLUDED.max,"
                  " ticks = EXCLUDED.ticks", 8, vals, on_flushed);
        if (rc)
            flush_failed(db, NULL);
    }
    for (int i = 0; i < 8; i++)
        strbuf_free(&a[i]);
    return rc;
}

static void on_query(void *ud, int status, PGresult *res)
{
    eng_db_t *db = ud;
    query_t q = db->cur;
    char ts[40];
    cJSON *arr = NULL;
    db->cmd = CMD_NONE;
    if (status == 0 && (arr = cJSON_CreateArray())) {
        for (int r = 0; r < PQntuples(res); r++) {
            cJSON *p = cJSON_CreateObject();
            eng_iso(ts, sizeof ts, (int64_t)llround(strtod(PQgetvalue(res, r, 0), NULL) * 1e6));
            cJSON_AddStringToObject(p, "ts", ts);
            static const char *const names[] = {"value", "count", "min", "max"};
            for (int c = 0; c < 4; c++) {
                if (PQgetisnull(res, r, c + 1))
                    cJSON_AddNullToObject(p, names[c]);
                else
                    cJSON_AddNumberToObject(p, names[c], strtod(PQgetvalue(res, r, c + 1), NULL));
            }
            cJSON_AddItemToArray(arr, p);
        }
    } else if (status == 0) {
        status = IOC_ENOMEM;
    } else {
        char m[256];
        log_warn("engine", "event=series_query_failed error=%s",
                 log_q(m, sizeof m, PQresultErrorMessage(res)));
    }
    q.cb(q.ud, status, arr);
    pump(db);
}

static const char *const sql_series[3] = {
#define SERIES_SQL(table)                                                                   \
    "SELECT floor(extract(epoch FROM ts) / $4::float8) * $4::float8,"                       \
    " sum(value * ticks) / nullif(sum(ticks) FILTER (WHERE value IS NOT NULL), 0),"         \
    " sum(count), min(min), max(max) FROM " table                                           \
    " WHERE indicator = $1 AND grp = $2 AND ts >= to_timestamp($3::float8)"                 \
    " AND ts < to_timestamp($5::float8) GROUP BY 1 ORDER BY 1"
    SERIES_SQL("rollup_1m"), SERIES_SQL("rollup_1h"), SERIES_SQL("rollup_1d"),
#undef SERIES_SQL
};

static int start_query(eng_db_t *db)
{
    const char *vals[5];
    db->cur = db->queries[db->qhead];
    db->qhead = (db->qhead + 1) % MAX_QUERIES;
    db->qcount--;
    for (int i = 0; i < 5; i++)
        vals[i] = db->cur.params[i];
    if (db_send(db, CMD_QUERY, sql_series[db->cur.table], 5, vals, on_query) == 0)
        return IOC_OK;
    db->cur.cb(db->cur.ud, IOC_EDB, NULL);
    return IOC_EDB;
}

/* Runs the next command: warm-up steps first, then history queries, then a due flush. When
 * closing, ends with a last flush and then finishes. */
static void pump(eng_db_t *db)
{
    while (db->connected && db->cmd == CMD_NONE) {
        if (db->phase != PH_LIVE) {
            if (db->closing)
                break;
            if (!uv_is_active((uv_handle_t *)&db->timer) && warm_step(db))
                warm_retry(db, "send", NULL);
            return;
        }
        if (db->qcount) {
            start_query(db);
            continue;
        }
        int64_t now = eng_now(db->e);
        if (!db->closing && now < db->next_flush)
            return;
        db->next_flush = now + FLUSH_EVERY_US;
        if (flush(db) == 0)
            return;
        break;
    }
    if (db->closing && db->cmd == CMD_NONE)
        finish(db);
}

/* Fails every history query still waiting for the connection. */
static void fail_queued(eng_db_t *db, int status)
{
    while (db->qcount) {
        query_t q = db->queries[db->qhead];
        db->qhead = (db->qhead + 1) % MAX_QUERIES;
        db->qcount--;
        q.cb(q.ud, status, NULL);
    }
}

static void on_timer(uv_timer_t *t)
{
    eng_db_t *db = t->data;
    if (!db->conn)
        start_connect(db);
    else
        pump(db);
}

static void on_connected(void *ud)
{
    eng_db_t *db = ud;
    db->connected = true;
    db->backoff_ms = RETRY_MIN_MS;
    log_info("engine", "event=db_connected phase=%s", db->phase == PH_LIVE ? "live" : "warmup");
    pump(db);
}

static void on_broken(void *ud, const char *msg)
{
    eng_db_t *db = ud;
    char q[256];
    log_warn("engine", "event=db_lost error=%s retry_ms=%llu", log_q(q, sizeof q, msg),
             (unsigned long long)db->backoff_ms);
    if (db->cmd >= CMD_FLUSH_1M)
        flush_failed(db, NULL);
    if (db->cmd == CMD_QUERY)
        db->cur.cb(db->cur.ud, IOC_EDB, NULL);
    fail_queued(db, IOC_EDB);
    db->cmd = CMD_NONE;
    db->connected = false;
    pg_conn_free(db->conn);
    db->conn = NULL;
    if (db->closing) {
        finish(db);
        return;
    }
    uv_timer_start(&db->timer, on_timer, db->backoff_ms, 0);
    db->backoff_ms = db->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : db->backoff_ms * 2;
}

static void start_connect(eng_db_t *db)
{
    static const pg_conn_cbs_t cbs = {on_connected, on_broken};
    char err[256];
    if (pg_conn_start(db->e->loop, db->dsn, &cbs, db, &db->conn, err, sizeof err)) {
        log_error("engine", "event=db_connect_failed error=\"%s\"", err);
        db->conn = NULL;
        uv_timer_start(&db->timer, on_timer, db->backoff_ms, 0);
    }
}

int eng_db_create(engine_t *e, const char *dsn, eng_db_t **out)
{
    eng_db_t *db = calloc(1, sizeof *db);
    if (!db || !(db->dsn = strdup(dsn))) {
        free(db);
        return IOC_ENOMEM;
    }
    db->e = e;
    db->backoff_ms = RETRY_MIN_MS;
    db->warm_to = e->started_us;
    uint64_t wmax = 0;
    for (size_t i = 0; i < e->ninds; i++)
        if (e->inds[i].window_ms > wmax)
            wmax = e->inds[i].window_ms;
    db->warm_from = db->warm_to - (int64_t)wmax * 1000;
    db->phase = e->ninds ? PH_ROLLUPS : PH_LIVE;
    db->next_flush = db->warm_to + FLUSH_EVERY_US;
    uv_timer_init(e->loop, &db->timer);
    uv_timer_init(e->loop, &db->close_timer);
    db->timer.data = db->close_timer.data = db;
    db->handles = 2;
    start_connect(db);
    *out = db;
    return IOC_OK;
}

void eng_db_tick(eng_db_t *db)
{
    if (db->phase == PH_LIVE)
        pump(db);
}

bool eng_db_warming(const eng_db_t *db) { return db->phase != PH_LIVE; }

int engine_series(engine_t *e, const char *id, const char *group, int64_t from_us, int64_t to_us,
                  int64_t step_us, engine_series_cb cb, void *ud)
{
    eng_db_t *db = e->db;
    const int64_t minute = 60LL * 1000000, hour = 60 * minute, day = 24 * hour;
    if (!eng_ind_find(e, id))
        return IOC_ENOTFOUND;
    if (step_us < minute || step_us % minute)
        return IOC_EINVAL;
    if (!db || !db->connected || db->closing || db->qcount == MAX_QUERIES)
        return IOC_EAGAIN;
    if (strlen(id) >= sizeof db->cur.params[0] || strlen(group) >= sizeof db->cur.params[0])
        return IOC_ENOTFOUND;
    query_t *q = &db->queries[(db->qhead + db->qcount) % MAX_QUERIES];
    q->table = step_us % day == 0 ? 2 : step_us % hour == 0 ? 1 : 0;
    snprintf(q->params[0], sizeof q->params[0], "%s", id);
    snprintf(q->params[1], sizeof q->params[1], "%s", group);
    secs(q->params[2], sizeof q->params[2], from_us);
    snprintf(q->params[3], sizeof q->params[3], "%lld", (long long)(step_us / 1000000));
    secs(q->params[4], sizeof q->params[4], to_us);
    q->cb = cb;
    q->ud = ud;
    db->qcount++;
    pump(db);
    return IOC_OK;
}

static void on_handle_closed(uv_handle_t *h)
{
    eng_db_t *db = h->data;
    if (--db->handles > 0)
        return;
    void (*done)(void *) = db->done;
    void *ud = db->done_ud;
    free_ws(db);
    free(db->flushed);
    free(db->dsn);
    free(db);
    done(ud);
}

/* Drops the connection (no callback runs afterwards) and closes the timers. */
static void finish(eng_db_t *db)
{
    if (uv_is_closing((uv_handle_t *)&db->timer))
        return;
    if (db->cmd == CMD_QUERY)
        db->cur.cb(db->cur.ud, IOC_ECLOSED, NULL);
    db->cmd = CMD_NONE;
    pg_conn_free(db->conn);
    db->conn = NULL;
    db->connected = false;
    uv_close((uv_handle_t *)&db->timer, on_handle_closed);
    uv_close((uv_handle_t *)&db->close_timer, on_handle_closed);
}

static void on_close_timeout(uv_timer_t *t)
{
    eng_db_t *db = t->data;
    log_warn("engine", "event=rollup_flush_timeout detail=\"closing without the last flush\"");
    finish(db);
}

void eng_db_close(eng_db_t *db, void (*done)(void *ud), void *ud)
{
    db->done = done;
    db->done_ud = ud;
    db->closing = true;
    fail_queued(db, IOC_ECLOSED);
    uv_timer_stop(&db->timer);
    if (!db->connected || db->phase != PH_LIVE) {
        finish(db);
        return;
    }
    uv_timer_start(&db->close_timer, on_close_timeout, CLOSE_TIMEOUT_MS, 0);
    if (db->cmd == CMD_NONE)
        pump(db);
}
