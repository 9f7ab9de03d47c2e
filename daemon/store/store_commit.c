/* The store's batch commit: intern new series, make missing partitions, binary COPY, record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ioc/error.h"
#include "store/store_int.h"
#include "store/store_schema.h"

/* Microseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
#define PG_EPOCH_OFFSET_US 946684800000000LL
#define TEXTARRAYOID 1009
#define TEXTOID 25

static void put_be(strbuf_t *sb, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    strbuf_append(sb, b, (size_t)bytes);
}

/* Builds "metric \x1f tags" into sb. */
static void series_key(strbuf_t *sb, const batch_series_t *bs)
{
    strbuf_reset(sb);
    strbuf_puts(sb, bs->metric);
    strbuf_append(sb, "\x1f", 1);
    strbuf_puts(sb, bs->tags_json);
}

void store__series_clear(store_t *s)
{
    for (size_t i = 0; i < s->series.cap; i++)
        if (s->series.slots[i].key)
            free(s->series.slots[i].value);
    hashmap_free(&s->series);
    hashmap_init(&s->series);
}

/* Grows an array of elem-sized items to at least need. Returns 0 or IOC_ENOMEM. */
static int ensure(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return IOC_OK;
    void *p = realloc(*arr, (size_t)need * elem);
    if (!p)
        return IOC_ENOMEM;
    *arr = p;
    *cap = need;
    return IOC_OK;
}

void store__commit_finish(store_t *s, int status)
{
    store_commit_state_t *c = &s->commit;
    store_commit_cb cb = c->cb;
    void *ud = c->ud;
    if (status < 0 && status != IOC_ECLOSED)
        s->stats.commit_errors++;
    c->active = c->started = false;
    c->batch = NULL;
    c->cb = NULL;
    if (s->state == STORE_UP)
        store__op_done(s);
    cb(ud, status);
}

/* Ends the commit after a server error; rolls back first if a transaction is open. */
static void rolled_back(store_t *s, int status, PGresult *res)
{
    (void)res;
    if (status != IOC_OK) {
        store__lost(s, "ROLLBACK failed");
        return;
    }
    store__commit_finish(s, s->commit.fail_status);
}

/* IOC_EINVAL when the server refused the batch's data itself (SQLSTATE classes 22 and 23),
 * which retrying may not cure; IOC_EDB for trouble of the server's (disk full, read-only,
 * shutting down, a partition dropped behind our back: 23514), which the caller retries. */
static int fail_status(const PGresult *res)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!st || strcmp(st, "23514") == 0)
        return IOC_EDB;
    return strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 ? IOC_EINVAL : IOC_EDB;
}

static void fail(store_t *s, PGresult *res, const char *step)
{
    char q[512];
    log_error("store", "event=commit_failed batch=%llu step=%s error=%s",
              (unsigned long long)s->commit.batch->id, step,
              log_q(q, sizeof q, res ? PQresultErrorMessage(res) : "out of memory"));
    /* A partition may have been dropped behind our back: re-check them all next time. */
    store__forget_days(s);
    s->commit.fail_status = fail_status(res);
    PGTransactionStatusType ts = PQtransactionStatus(pg_conn_raw(s->pg));
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        store__send(s, rolled_back, "ROLLBACK", -1, NULL, NULL, NULL, NULL);
    else
        store__commit_finish(s, s->commit.fail_status);
}

static void committed(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        fail(s, res, "commit");
        return;
    }
    s->stats.batches_committed++;
    s->stats.samples_committed += s->commit.batch->nsamples;
    store__commit_finish(s, IOC_OK);
}

static void copied(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        fail(s, res, "copy");
        return;
    }
    store__send(s, committed, "COMMIT", -1, NULL, NULL, NULL, NULL);
}

static void duplicate_rolled_back(store_t *s, int status, PGresult *res)
{
    (void)res;
    if (status != IOC_OK) {
        store__lost(s, "ROLLBACK failed");
        return;
    }
    s->stats.batches_duplicate++;
    store__commit_finish(s, IOC_OK);
}

/* Builds the binary COPY payload: header, one 3-field tuple per sample, trailer. */
static int build_copy(store_t *s)
{
    const batch_t *b = s->commit.batch;
    strbuf_t *sb = &s->commit.buf;
    static const char sig[] = "PGCOPY\n\377\r\n";
    strbuf_reset(sb);
    strbuf_append(sb, sig, 11);
    put_be(sb, 0, 4); /* flags */
    put_be(sb, 0, 4); /* header extension length */
    for (uint32_t i = 0; i < b->nsamples && !sb->overflow; i++) {
        const batch_sample_t *x = &b->samples[i];
        uint64_t bits;
        memcpy(&bits, &x->value, sizeof bits);
        put_be(sb, 3, 2);
        put_be(sb, 8, 4);
        put_be(sb, (uint64_t)s->commit.ids[x->series], 8);
        put_be(sb, 8, 4);
        put_be(sb, (uint64_t)(x->ts_us - PG_EPOCH_OFFSET_US), 8);
        put_be(sb, 8, 4);
        put_be(sb, bits, 8);
    }
    put_be(sb, 0xffff, 2);
    return sb->overflow ? IOC_ENOMEM : IOC_OK;
}

static void recorded(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        fail(s, res, "record batch");
        return;
    }
    if (strcmp(PQcmdTuples(res), "0") == 0) {
        store__send(s, duplicate_rolled_back, "ROLLBACK", -1, NULL, NULL, NULL, NULL);
        return;
    }
    if (build_copy(s) != IOC_OK) {
        fail(s, NULL, "copy");
        return;
    }
    store__copy(s, copied, "COPY samples (series_id, ts, value) FROM STDIN (FORMAT binary)",
                s->commit.buf.data, s->commit.buf.len);
}

static void begun(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        fail(s, res, "begin");
        return;
    }
    char id[24], n[16];
    snprintf(id, sizeof id, "%lld", (long long)s->commit.batch->id);
    snprintf(n, sizeof n, "%u", s->commit.batch->nsamples);
    const char *vals[] = {id, n};
    store__send(s, recorded,
                "INSERT INTO ingest_batches (batch_id, samples) VALUES ($1::bigint, $2::int)"
                " ON CONFLICT (batch_id) DO NOTHING",
                2, NULL, vals, NULL, NULL);
}

static void partitions_made(store_t *s, int status, PGresult *res)
{
    if (status != IOC_OK) {
        fail(s, res, "partitions");
        return;
    }
    for (uint32_t i = 0; i < s->commit.nnew_days; i++) {
        store__add_day(s, s->commit.new_days[i]);
        log_info("store", "event=partition_created day=%lld reason=batch",
                 (long long)s->commit.new_days[i]);
    }
    store__send(s, begun, "BEGIN", -1, NULL, NULL, NULL, NULL);
}

static bool day_listed(const store_commit_state_t *c, int64_t day)
{
    for (uint32_t i = 0; i < c->nnew_days; i++)
        if (c->new_days[i] == day)
            return true;
    return false;
}

/* Creates the partitions the batch needs and does not know of, before its transaction. */
static void make_partitions(store_t *s)
{
    store_commit_state_t *c = &s->commit;
    const batch_t *b = c->batch;
    int64_t last = INT64_MIN;
    c->nnew_days = 0;
    for (uint32_t i = 0; i < b->nsamples; i++) {
        int64_t day = store_day_of_us(b->samples[i].ts_us);
        if (day == last)
            continue;
        last = day;
        if (store__has_day(s, day) || day_listed(c, day))
            continue;
        if (ensure((void **)&c->new_days, &c->new_days_cap, c->nnew_days + 1,
                   sizeof *c->new_days)) {
            fail(s, NULL, "partitions");
            return;
        }
        c->new_days[c->nnew_days++] = day;
    }
    if (c->nnew_days == 0) {
        partitions_made(s, IOC_OK, NULL);
        return;
    }
    strbuf_reset(&s->sql);
    strbuf_printf(&s->sql, "SELECT pg_advisory_xact_lock(%d);", STORE_LOCK_KEY);
    for (uint32_t i = 0; i < c->nnew_days; i++)
        store_sql_create_partition(&s->sql, c->new_days[i]);
    if (s->sql.overflow) {
        fail(s, NULL, "partitions");
        return;
    }
    store__send(s, partitions_made, s->sql.data, -1, NULL, NULL, NULL, NULL);
}

/* Fills commit.ids from the cache; returns how many series are missing (listed in miss). */
static int resolve(store_t *s)
{
    store_commit_state_t *c = &s->commit;
    const batch_t *b = c->batch;
    strbuf_t key;
    strbuf_init(&key, 0);
    c->nmiss = 0;
    int rc = IOC_OK;
    for (uint32_t i = 0; i < b->nseries; i++) {
        series_key(&key, &b->series[i]);
        if (key.overflow) {
            rc = IOC_ENOMEM;
            goto out;
        }
        store_series_t *e = hashmap_get(&s->series, key.data);
        if (e) {
            c->ids[i] = e->id;
            continue;
        }
        c->ids[i] = -1;
        c->miss[c->nmiss++] = i;
    }
    rc = (int)c->nmiss;
out:
    strbuf_free(&key);
    return rc;
}

/* Appends a one-dimensional text[] in binary array format, one element per missing series. */
static void put_text_array(strbuf_t *sb, const store_commit_state_t *c, bool tags)
{
    put_be(sb, 1, 4);       /* dimensions */
    put_be(sb, 0, 4);       /* no NULLs */
    put_be(sb, TEXTOID, 4); /* element type */
    put_be(sb, c->nmiss, 4);
    put_be(sb, 1, 4); /* lower bound */
    for (uint32_t i = 0; i < c->nmiss; i++) {
        const batch_series_t *bs = &c->batch->series[c->miss[i]];
        const char *v = tags ? bs->tags_json : bs->metric;
        size_t n = strlen(v);
        put_be(sb, n, 4);
        strbuf_append(sb, v, n);
    }
}

static void start_copy_steps(store_t *s)
{
    int missing = resolve(s);
    if (missing != 0) {
        char q[64];
        log_error("store", "event=commit_failed batch=%llu step=intern error=%s",
                  (unsigned long long)s->commit.batch->id,
                  log_q(q, sizeof q, missing < 0 ? "out of memory" : "series not interned"));
        store__commit_finish(s, missing < 0 ? missing : IOC_EDB);
        return;
    }
    make_partitions(s);
}

static void interned(store_t *s, int status, PGresult *res)
{
    store_commit_state_t *c = &s->commit;
    if (status != IOC_OK) {
        fail(s, res, "intern series");
        return;
    }
    strbuf_t key;
    strbuf_init(&key, 0);
    for (int r = 0; r < PQntuples(res); r++) {
        long ord = strtol(PQgetvalue(res, r, 0), NULL, 10);
        long long id = strtoll(PQgetvalue(res, r, 1), NULL, 10);
        if (ord < 1 || (uint32_t)ord > c->nmiss)
            continue;
        series_key(&key, &c->batch->series[c->miss[ord - 1]]);
        if (key.overflow || hashmap_get(&s->series, key.data))
            continue;
        store_series_t *e = malloc(sizeof *e + key.len + 1);
        if (!e)
            break;
        e->id = id;
        memcpy(e->key, key.data, key.len + 1);
        if (hashmap_put(&s->series, e->key, e) != IOC_OK) {
            free(e);
            break;
        }
        s->stats.series_interned++;
    }
    strbuf_free(&key);
    start_copy_steps(s);
}

/* Interns the batch's series missing from the cache in one round trip. Distinct spellings of
 * equal jsonb map to one row; results come back keyed by the input's ordinality. */
static const char intern_sql[] =
    "WITH input AS ("
    "  SELECT u.m, u.t::jsonb AS t, u.ord"
    "  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(m, t, ord)),"
    " ins AS ("
    "  INSERT INTO series (metric, tags) SELECT DISTINCT m, t FROM input"
    "  ON CONFLICT (metric, tags) DO UPDATE SET metric = EXCLUDED.metric"
    "  RETURNING id, metric, tags)"
    " SELECT input.ord, ins.id FROM input JOIN ins ON ins.metric = input.m AND ins.tags = input.t";

void store__commit_start(store_t *s)
{
    store_commit_state_t *c = &s->commit;
    const batch_t *b = c->batch;
    c->started = true;
    s->op_running = true;
    if (ensure((void **)&c->ids, &c->ids_cap, b->nseries, sizeof *c->ids) ||
        ensure((void **)&c->miss, &c->miss_cap, b->nseries, sizeof *c->miss)) {
        store__commit_finish(s, IOC_ENOMEM);
        return;
    }
    int missing = resolve(s);
    if (missing < 0) {
        store__commit_finish(s, missing);
        return;
    }
    if (missing == 0) {
        make_partitions(s);
        return;
    }
    strbuf_t *sb = &c->buf;
    strbuf_reset(sb);
    put_text_array(sb, c, false);
    size_t metrics_len = sb->len;
    put_text_array(sb, c, true);
    if (sb->overflow) {
        store__commit_finish(s, IOC_ENOMEM);
        return;
    }
    const char *vals[] = {sb->data, sb->data + metrics_len};
    const int lens[] = {(int)metrics_len, (int)(sb->len - metrics_len)};
    const int fmts[] = {1, 1};
    const Oid types[] = {TEXTARRAYOID, TEXTARRAYOID};
    store__send(s, interned, intern_sql, 2, types, vals, lens, fmts);
}

int store_commit(store_t *s, const batch_t *batch, store_commit_cb cb, void *ud)
{
    if (s->state != STORE_UP)
        return s->state == STORE_CLOSING ? IOC_ECLOSED : IOC_EDB;
    if (s->commit.active)
        return IOC_EAGAIN;
    for (uint32_t i = 0; i < batch->nsamples; i++) {
        int64_t day = store_day_of_us(batch->samples[i].ts_us);
        if (day < STORE_DAY_MIN || day > STORE_DAY_MAX || batch->samples[i].series >= batch->nseries)
            return IOC_EINVAL;
    }
    s->commit.active = true;
    s->commit.started = false;
    s->commit.batch = batch;
    s->commit.cb = cb;
    s->commit.ud = ud;
    if (!s->op_running)
        store__commit_start(s);
    return IOC_OK;
}
