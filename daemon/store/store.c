/* The store's connection life: connect with back-off, migrate, keep partitions, report state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "ioc/error.h"
#include "store/store_int.h"
#include "store/store_schema.h"

#define STORE_CONNECT_TIMEOUT_MS 10000
#define STORE_MAINT_INTERVAL_MS (3600 * 1000)
#define DAY_MS 86400000LL

static void on_retry_timer(uv_timer_t *t);
static void maint_start(store_t *s);
static void on_maint_timer(uv_timer_t *t);

static uint32_t rng_next(store_t *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (uint32_t)(s->rng >> 16);
}

static void report(store_t *s, bool up)
{
    if (s->reported == (int)up)
        return;
    s->reported = up;
    if (s->opts.on_state)
        s->opts.on_state(s->opts.ud, up);
}

static void on_result(void *ud, int status, PGresult *res)
{
    store_t *s = ud;
    store_step_fn fn = s->next;
    s->next = NULL;
    fn(s, status, res);
}

int store__send(store_t *s, store_step_fn next, const char *sql, int nparams, const Oid *types,
                const char *const *values, const int *lengths, const int *formats)
{
    s->next = next;
    if (!s->pg || pg_conn_send(s->pg, sql, nparams, types, values, lengths, formats, on_result,
                               s) != IOC_OK) {
        store__lost(s, "cannot send a command");
        return IOC_EDB;
    }
    return IOC_OK;
}

int store__copy(store_t *s, store_step_fn next, const char *sql, const void *data, size_t len)
{
    s->next = next;
    if (!s->pg || pg_conn_copy_in(s->pg, sql, data, len, on_result, s) != IOC_OK) {
        store__lost(s, "cannot start COPY");
        return IOC_EDB;
    }
    return IOC_OK;
}

/* Arms the back-off timer: min * 2^attempts capped at max, with jitter in [d/2, d]. */
static void schedule_retry(store_t *s)
{
    uint64_t d = s->opts.retry_min_ms;
    for (uint32_t i = 0; i < s->attempts && d < s->opts.retry_max_ms; i++)
        d *= 2;
    if (d > s->opts.retry_max_ms)
        d = s->opts.retry_max_ms;
    d = d / 2 + rng_next(s) % (d / 2 + 1);
    s->attempts++;
    uv_timer_start(&s->retry_timer, on_retry_timer, d, 0);
}

void store__lost(store_t *s, const char *why)
{
    char q[512], msg[512];
    if (s->state == STORE_CLOSING)
        return;
    /* libpq's messages end in a newline and may span lines: keep the log line short. */
    snprintf(msg, sizeof msg, "%s", why);
    msg[strcspn(msg, "\n")] = '\0';
    why = msg;
    if (s->attempts == 0)
        log_warn("store", "event=db_down reason=%s", log_q(q, sizeof q, why));
    else
        log_debug("store", "event=db_retry attempt=%u reason=%s", s->attempts,
                  log_q(q, sizeof q, why));
    pg_conn_free(s->pg);
    s->pg = NULL;
    s->next = NULL;
    s->op_running = false;
    s->state = STORE_DOWN;
    uv_timer_stop(&s->maint_timer);
    schedule_retry(s);
    report(s, false);
    if (s->state != STORE_CLOSING && s->commit.active)
        store__commit_finish(s, IOC_EDB);
}

bool store__has_day(const store_t *s, int64_t day)
{
    uint32_t lo = 0, hi = s->ndays;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->days[mid] == day)
            return true;
        if (s->days[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

int store__add_day(store_t *s, int64_t day)
{
    if (store__has_day(s, day))
        return IOC_OK;
    if (s->ndays == s->days_cap) {
        uint32_t cap = s->days_cap ? s->days_cap * 2 : 64;
        int64_t *p = realloc(s->days, cap * sizeof *p);
        if (!p)
            return IOC_ENOMEM;
        s->days = p;
        s->days_cap = cap;
    }
    uint32_t i = s->ndays;
    while (i > 0 && s->days[i - 1] > day) {
        s->days[i] = s->days[i - 1];
        i--;
    }
    s->days[i] = day;
    s->ndays++;
    return IOC_OK;
}

static void remove_day(store_t *s, int64_t day)
{
    for (uint32_t i = 0; i < s->ndays; i++) {
        if (s->days[i] == day) {
            memmove(&s->days[i], &s->days[i + 1], (s->ndays - i - 1) * sizeof *s->days);
            s->ndays--;
            return;
        }
    }
}

void store__forget_days(store_t *s)
{
    s->ndays = 0;
}

/* Logs a failed command of a chain; returns true if it failed. */
static bool failed(int status, PGresult *res, const char *what)
{
    char q[512];
    if (status == IOC_OK)
        return false;
    log_error("store", "event=sql_error step=%s error=%s", what,
              log_q(q, sizeof q, res ? PQresultErrorMessage(res) : "no result"));
    return true;
}

void store__op_done(store_t *s)
{
    s->op_running = false;
    if (s->state != STORE_UP)
        return;
    if (s->maint_due)
        maint_start(s);
    else if (s->commit.active && !s->commit.started)
        store__commit_start(s);
}

/* Maintenance is over: frees its lists; during setup, the store is now up. */
static void maint_finish(store_t *s)
{
    free(s->maint_new);
    free(s->maint_drop);
    s->maint_new = s->maint_drop = NULL;
    s->nmaint_new = s->nmaint_drop = 0;
    if (s->state == STORE_SETUP) {
        s->state = STORE_UP;
        s->attempts = 0;
        log_info("store", "event=db_up partitions=%u", s->ndays);
        uv_timer_start(&s->maint_timer, on_maint_timer, STORE_MAINT_INTERVAL_MS,
                       STORE_MAINT_INTERVAL_MS);
        report(s, true);
        if (s->state != STORE_UP)
            return;
    }
    store__op_done(s);
}

static void maint_batches_done(store_t *s, int status, PGresult *res)
{
    failed(status, res, "retention of ingest_batches");
    maint_finish(s);
}

static void maint_parts_done(store_t *s, int status, PGresult *res)
{
    if (!failed(status, res, "partitions")) {
        for (uint32_t i = 0; i < s->nmaint_new; i++)
            store__add_day(s, s->maint_new[i]);
        for (uint32_t i = 0; i < s->nmaint_drop; i++) {
            remove_day(s, s->maint_drop[i]);
            log_info("store", "event=partition_dropped day=%lld", (long long)s->maint_drop[i]);
        }
    }
    if (!s->opts.retention_raw_ms) {
        maint_finish(s);
        return;
    }
    char secs[32];
    snprintf(secs, sizeof secs, "%.3f", (double)s->opts.retention_raw_ms / 1000.0);
    const char *vals[] = {secs};
    store__send(s, maint_batches_done,
                "DELETE FROM ingest_batches"
                " WHERE committed_at < now() - make_interval(secs => $1::float8)",
                1, NULL, vals, NULL, NULL);
}

/* Creates partitions for today and the days ahead and drops those entirely past retention,
 * in one transaction under the advisory lock; then trims ingest_batches likewise. */
static void maint_run(store_t *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t today = wall_ms / DAY_MS;
    uint32_t ahead = s->opts.partition_ahead;

    s->maint_new = calloc(ahead + 1, sizeof *s->maint_new);
    s->maint_drop = calloc(s->ndays ? s->ndays : 1, sizeof *s->maint_drop);
    if (!s->maint_new || !s->maint_drop) {
        log_error("store", "event=maintenance_skipped reason=out_of_memory");
        maint_finish(s);
        return;
    }
    for (int64_t d = today; d <= today + ahead; d++)
        if (!store__has_day(s, d))
            s->maint_new[s->nmaint_new++] = d;
    if (s->opts.retention_raw_ms) {
        int64_t cutoff_ms = wall_ms - (int64_t)s->opts.retention_raw_ms;
        for (uint32_t i = 0; i < s->ndays; i++)
            if ((s->days[i] + 1) * DAY_MS <= cutoff_ms)
                s->maint_drop[s->nmaint_drop++] = s->days[i];
    }
    if (s->nmaint_new == 0 && s->nmaint_drop == 0) {
        maint_parts_done(s, IOC_OK, NULL);
        return;
    }
    strbuf_reset(&s->sql);
    strbuf_printf(&s->sql, "SELECT pg_advisory_xact_lock(%d);", STORE_LOCK_KEY);
    for (uint32_t i = 0; i < s->nmaint_new; i++)
        store_sql_create_partition(&s->sql, s->maint_new[i]);
    for (uint32_t i = 0; i < s->nmaint_drop; i++)
        store_sql_drop_partition(&s->sql, s->maint_drop[i]);
    if (s->sql.overflow) {
        log_error("store", "event=maintenance_skipped reason=out_of_memory");
        maint_finish(s);
        return;
    }
    store__send(s, maint_parts_done, s->sql.data, -1, NULL, NULL, NULL, NULL);
}

static void maint_start(store_t *s)
{
    if (s->state != STORE_UP && s->state != STORE_SETUP)
        return;
    if (s->op_running) {
        s->maint_due = true;
        return;
    }
    s->maint_due = false;
    s->op_running = true;
    maint_run(s);
}

static void on_maint_timer(uv_timer_t *t)
{
    maint_start(t->data);
}

static void setup_fail(store_t *s, int status, PGresult *res, const char *what)
{
    char why[256];
    snprintf(why, sizeof why, "setup failed at %s: %s", what,
             res ? PQresultErrorMessage(res) : ioc_strerror(status));
    store__lost(s, why);
}

static void setup_partitions_loaded(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        setup_fail(s, status, res, "loading partitions");
        return;
    }
    store__forget_days(s);
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t day = store_day_parse(PQgetvalue(res, i, 0));
        if (day != INT64_MIN && store__add_day(s, day) != IOC_OK) {
            setup_fail(s, IOC_ENOMEM, NULL, "loading partitions");
            return;
        }
    }
    maint_run(s);
}

static void setup_unlocked(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        setup_fail(s, status, res, "releasing the migration lock");
        return;
    }
    store__send(s, setup_partitions_loaded,
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'samples'::regclass",
                0, NULL, NULL, NULL, NULL);
}

static void migrate_next(store_t *s);

static void migration_committed(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        setup_fail(s, status, res, "committing a migration");
        return;
    }
    log_info("store", "event=migrated version=%d", store_migrations[s->mig_next].version);
    s->mig_next++;
    migrate_next(s);
}

static void migration_recorded(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        setup_fail(s, status, res, "recording a migration");
        return;
    }
    store__send(s, migration_committed, "COMMIT", -1, NULL, NULL, NULL, NULL);
}

static void migration_applied(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        setup_fail(s, status, res, "applying a migration");
        return;
    }
    char v[16];
    snprintf(v, sizeof v, "%d", store_migrations[s->mig_next].version);
    const char *vals[] = {v};
    store__send(s, migration_recorded,
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1::int, now())", 1,
                NULL, vals, NULL, NULL);
}

/* Applies the next migration not yet recorded, each in its own transaction. */
static void migrate_next(store_t *s)
{
    while (s->mig_next < store_nmigrations && s->mig_applied[s->mig_next])
        s->mig_next++;
    if (s->mig_next == store_nmigrations) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d)", STORE_LOCK_KEY);
        store__send(s, setup_unlocked, sql, -1, NULL, NULL, NULL, NULL);
        return;
    }
    strbuf_reset(&s->sql);
    strbuf_puts(&s->sql, "BEGIN;");
    strbuf_puts(&s->sql, store_migrations[s->mig_next].sql);
    if (s->sql.overflow) {
        setup_fail(s, IOC_ENOMEM, NULL, "applying a migration");
        return;
    }
    store__send(s, migration_applied, s->sql.data, -1, NULL, NULL, NULL, NULL);
}

static void setup_versions(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        setup_fail(s, status, res, "reading schema_migrations");
        return;
    }
    memset(s->mig_applied, 0, (size_t)store_nmigrations);
    for (int i = 0; i < PQntuples(res); i++) {
        int v = atoi(PQgetvalue(res, i, 0));
        for (int m = 0; m < store_nmigrations; m++)
            if (store_migrations[m].version == v)
                s->mig_applied[m] = 1;
    }
    s->mig_next = 0;
    migrate_next(s);
}

static void setup_locked(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        setup_fail(s, status, res, "taking the migration lock");
        return;
    }
    store__send(s, setup_versions, "SELECT version FROM schema_migrations", 0, NULL, NULL, NULL,
                NULL);
}

static void on_connected(void *ud)
{
    store_t *s = ud;
    uv_timer_stop(&s->retry_timer);
    s->state = STORE_SETUP;
    s->op_running = true;
    /* Series ids are only trusted for the database they came from: re-intern after a reconnect. */
    store__series_clear(s);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT pg_advisory_lock(%d);"
             "CREATE TABLE IF NOT EXISTS schema_migrations ("
             " version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
             STORE_LOCK_KEY);
    store__send(s, setup_locked, sql, -1, NULL, NULL, NULL, NULL);
}

static void on_broken(void *ud, const char *msg)
{
    store__lost(ud, msg);
}

static void connect_timeout(uv_timer_t *t)
{
    store_t *s = t->data;
    if (s->state == STORE_CONNECTING)
        store__lost(s, "connect timed out");
}

static void connect_now(store_t *s)
{
    static const pg_conn_cbs_t cbs = {.on_connected = on_connected, .on_broken = on_broken};
    char err[512];
    if (s->state != STORE_DOWN)
        return;
    if (s->reported != -1)
        s->stats.reconnects++;
    s->state = STORE_CONNECTING;
    if (pg_conn_start(s->loop, s->dsn, &cbs, s, &s->pg, err, sizeof err) != IOC_OK) {
        s->pg = NULL;
        store__lost(s, err);
        return;
    }
    uv_timer_start(&s->retry_timer, connect_timeout, STORE_CONNECT_TIMEOUT_MS, 0);
}

static void on_retry_timer(uv_timer_t *t)
{
    connect_now(t->data);
}

int store_create(uv_loop_t *loop, const store_opts_t *opts, store_t **out)
{
    if (!opts || !opts->dsn)
        return IOC_EINVAL;
    store_t *s = calloc(1, sizeof *s);
    if (!s)
        return IOC_ENOMEM;
    s->loop = loop;
    s->opts = *opts;
    s->dsn = strdup(opts->dsn);
    s->mig_applied = calloc((size_t)store_nmigrations, 1);
    if (!s->dsn || !s->mig_applied) {
        free(s->dsn);
        free(s->mig_applied);
        free(s);
        return IOC_ENOMEM;
    }
    s->opts.dsn = s->dsn;
    if (!s->opts.retry_min_ms)
        s->opts.retry_min_ms = 200;
    if (!s->opts.retry_max_ms)
        s->opts.retry_max_ms = 10000;
    if (s->opts.retry_max_ms < s->opts.retry_min_ms)
        s->opts.retry_max_ms = s->opts.retry_min_ms;
    if (!s->opts.partition_ahead)
        s->opts.partition_ahead = 3;
    s->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)s;
    if (!s->rng)
        s->rng = 0x9e3779b97f4a7c15ULL;
    s->reported = -1;
    s->state = STORE_DOWN;
    hashmap_init(&s->series);
    strbuf_init(&s->sql, 0);
    strbuf_init(&s->commit.buf, 0);
    uv_timer_init(loop, &s->retry_timer);
    uv_timer_init(loop, &s->maint_timer);
    s->retry_timer.data = s;
    s->maint_timer.data = s;
    s->open_handles = 2;
    /* Connect from the loop so that callbacks never run inside store_create. */
    uv_timer_start(&s->retry_timer, on_retry_timer, 0, 0);
    *out = s;
    return IOC_OK;
}

bool store_up(const store_t *s)
{
    return s->state == STORE_UP;
}

bool store_idle(const store_t *s)
{
    return s->state == STORE_UP && !s->commit.active;
}

void store_get_stats(const store_t *s, store_stats_t *out)
{
    *out = s->stats;
}

static void on_handle_closed(uv_handle_t *h)
{
    store_t *s = h->data;
    if (--s->open_handles > 0)
        return;
    void (*done)(void *) = s->done;
    void *ud = s->done_ud;
    store__series_clear(s);
    hashmap_free(&s->series);
    strbuf_free(&s->sql);
    strbuf_free(&s->commit.buf);
    free(s->commit.ids);
    free(s->commit.miss);
    free(s->commit.new_days);
    free(s->maint_new);
    free(s->maint_drop);
    free(s->days);
    free(s->mig_applied);
    free(s->dsn);
    free(s);
    if (done)
        done(ud);
}

void store_close(store_t *s, void (*done)(void *ud), void *ud)
{
    if (!s || s->state == STORE_CLOSING)
        return;
    s->state = STORE_CLOSING;
    s->done = done;
    s->done_ud = ud;
    pg_conn_free(s->pg);
    s->pg = NULL;
    s->next = NULL;
    uv_close((uv_handle_t *)&s->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->maint_timer, on_handle_closed);
    if (s->commit.active)
        store__commit_finish(s, IOC_ECLOSED);
}
