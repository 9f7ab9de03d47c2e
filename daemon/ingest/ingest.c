/* Ingest: validates and interns samples, seals batches by size and time, and routes each sealed
 * batch to the store (a bounded in-memory queue, committed one at a time) or, when PostgreSQL is
 * down, behind, or the spool already holds older batches, to the disk spool, which is replayed in
 * order when the store is idle. Batches are numbered (seq) so callers can wait for durability. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ingest/ingest.h"
#include "ingest/series.h"
#include "store/store_schema.h"

#define COMMIT_RETRY_MS 1000
#define POISON_ATTEMPTS 5

typedef struct waiter {
    struct waiter *next;
    uint64_t start_seq, target_seq;
    bool failed;
    ingest_durable_cb cb;
    void *ud;
} waiter_t;

typedef struct spool_write {
    ingest_t *in;
    uint64_t seq;
    uint32_t nsamples;
} spool_write_t;

struct ingest {
    uv_loop_t *loop;
    ingest_opts_t o;
    series_registry_t reg;

    batch_t *open;      /* the batch being filled (NULL until the first sample) */
    uint64_t open_seq;  /* seq the open batch has or will have */
    uv_timer_t seal_timer;
    uv_timer_t retry_timer;

    batch_t **queue;    /* ring of sealed batches for the store */
    uint64_t *queue_seq;
    uint32_t qhead, qcount, qsamples;

    uint64_t *spool_fifo; /* seqs of spool appends in flight, in order */
    uint32_t sf_head, sf_count, sf_cap;

    bool committing;     /* a store_commit is in flight */
    bool from_spool;     /* ... and it is a replayed spool record */
    bool peeking;
    batch_t *replay;     /* the decoded spool record being committed */
    int replay_failures;

    waiter_t *waiters;
    bool flush_wanted;   /* a waiter wants the open batch sealed once the store is free */
    bool draining;
    bool abandoned;      /* drain timed out on a hung commit: its batch is spooled (or still in
                          * the spool, for a replay); drain no longer waits for it */
    uint64_t drain_deadline_ms;
    void (*drain_done)(void *);
    void *drain_ud;
    uv_timer_t drain_timer;
    int closing_handles;

    ingest_stats_t st;
};

static void pump(ingest_t *in);
static void check_drained(ingest_t *in);

static uint64_t durable_upto(const ingest_t *in)
{
    uint64_t min = in->open_seq; /* the open batch (filled or not) is never durable yet */
    uint32_t front = in->abandoned && in->committing && !in->from_spool ? 1 : 0;
    if (in->qcount > front) {
        uint64_t q = in->queue_seq[(in->qhead + front) % in->o.queue_max_batches];
        if (q < min)
            min = q;
    }
    if (in->sf_count && in->spool_fifo[in->sf_head] < min)
        min = in->spool_fifo[in->sf_head];
    return min - 1;
}

static void notify_waiters(ingest_t *in)
{
    uint64_t upto = durable_upto(in);
    waiter_t **pp = &in->waiters;
    while (*pp) {
        waiter_t *w = *pp;
        if (w->target_seq <= upto) {
            *pp = w->next;
            w->cb(w->ud, w->failed ? IOC_EFULL : IOC_OK);
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

static void mark_failed(ingest_t *in, uint64_t seq, uint32_t nsamples)
{
    in->st.samples_dropped_full += nsamples;
    for (waiter_t *w = in->waiters; w; w = w->next)
        if (w->start_seq <= seq && seq <= w->target_seq)
            w->failed = true;
}

static void on_spooled(void *ud, int status)
{
    spool_write_t *sw = ud;
    ingest_t *in = sw->in;
    /* Appends complete in call order, so this is the head of the fifo. */
    in->sf_head = (in->sf_head + 1) % in->sf_cap;
    in->sf_count--;
    if (status == IOC_OK) {
        in->st.samples_spooled += sw->nsamples;
    } else {
        log_error("ingest", "event=spool_append_failed seq=%llu samples=%u error=\"%s\"",
                  (unsigned long long)sw->seq, sw->nsamples, ioc_strerror(status));
        mark_failed(in, sw->seq, sw->nsamples);
    }
    free(sw);
    notify_waiters(in);
    pump(in);
    check_drained(in);
}

/* Writes a copy of a batch to the spool; the batch stays the caller's. */
static void spool_copy(ingest_t *in, const batch_t *b, uint64_t seq)
{
    strbuf_t rec;
    strbuf_init(&rec, 0);
    uint32_t n = b->nsamples;
    spool_write_t *sw = malloc(sizeof *sw);
    int rc = sw ? batch_encode(b, &rec) : IOC_ENOMEM;
    if (rc == IOC_OK) {
        if (in->sf_count == in->sf_cap) {
            uint32_t ncap = in->sf_cap * 2;
            uint64_t *f = malloc(ncap * sizeof *f);
            if (!f) {
                rc = IOC_ENOMEM;
                goto out;
            }
            for (uint32_t i = 0; i < in->sf_count; i++)
                f[i] = in->spool_fifo[(in->sf_head + i) % in->sf_cap];
            free(in->spool_fifo);
            in->spool_fifo = f;
            in->sf_head = 0;
            in->sf_cap = ncap;
        }
        *sw = (spool_write_t){in, seq, n};
        rc = spool_append(in->o.spool, rec.data, rec.len, on_spooled, sw);
        if (rc == IOC_OK) {
            in->spool_fifo[(in->sf_head + in->sf_count) % in->sf_cap] = seq;
            in->sf_count++;
            sw = NULL;
        }
    }
out:
    strbuf_free(&rec);
    free(sw);
    if (rc) {
        log_error("ingest", "event=spool_refused seq=%llu samples=%u error=\"%s\"",
                  (unsigned long long)seq, n, ioc_strerror(rc));
        mark_failed(in, seq, n);
        notify_waiters(in);
    }
}

/* Writes a batch to the spool (the record is copied) and frees it. */
static void to_spool(ingest_t *in, batch_t *b, uint64_t seq)
{
    spool_copy(in, b, seq);
    batch_free(b);
}

static bool wants_queue(const ingest_t *in)
{
    return in->o.store && store_up(in->o.store) && !in->draining &&
           spool_records(in->o.spool) == 0 && in->qcount < in->o.queue_max_batches;
}

/* True if a batch sealed now has somewhere to go without breaking a bound. */
static bool can_seal(const ingest_t *in)
{
    return wants_queue(in) || in->sf_count < in->o.max_spool_inflight;
}

static void seal(ingest_t *in)
{
    batch_t *b = in->open;
    if (!b || b->nsamples == 0)
        return;
    uint64_t seq = in->open_seq;
    in->open = NULL;
    in->open_seq++;
    uv_timer_stop(&in->seal_timer);
    in->st.batches_sealed++;
    if (wants_queue(in)) {
        uint32_t slot = (in->qhead + in->qcount) % in->o.queue_max_batches;
        in->queue[slot] = b;
        in->queue_seq[slot] = seq;
        in->qcount++;
        in->qsamples += b->nsamples;
        pump(in);
    } else {
        to_spool(in, b, seq);
    }
}

static void on_seal_timer(uv_timer_t *t)
{
    seal(t->data);
}

static void on_retry_timer(uv_timer_t *t)
{
    pump(t->data);
}

static void queue_pop(ingest_t *in)
{
    batch_t *b = in->queue[in->qhead];
    in->qsamples -= b->nsamples;
    in->qhead = (in->qhead + 1) % in->o.queue_max_batches;
    in->qcount--;
    batch_free(b);
}

/* Moves every queued batch except one being committed to the spool, oldest first. */
static void queue_to_spool(ingest_t *in)
{
    uint32_t keep = in->committing && !in->from_spool ? 1 : 0;
    for (uint32_t i = keep; i < in->qcount; i++) {
        uint32_t idx = (in->qhead + i) % in->o.queue_max_batches;
        in->qsamples -= in->queue[idx]->nsamples;
        to_spool(in, in->queue[idx], in->queue_seq[idx]);
    }
    in->qcount = keep;
}

static void on_commit(void *ud, int status)
{
    ingest_t *in = ud;
    in->committing = false;
    if (!in->from_spool) {
        batch_t *b = in->queue[in->qhead];
        if (status == IOC_OK) {
            in->st.samples_committed += b->nsamples;
            queue_pop(in);
        } else if (in->abandoned) {
            queue_pop(in); /* spooled when the drain timed out */
        } else {
            log_warn("ingest", "event=commit_failed source=queue error=\"%s\" action=spool",
                     ioc_strerror(status));
            queue_to_spool(in); /* the failed front is no longer in flight, so it moves too */
        }
    } else {
        uint32_t n = in->replay->nsamples;
        batch_free(in->replay);
        in->replay = NULL;
        if (status == IOC_OK) {
            in->st.samples_committed += n;
            in->st.samples_replayed += n;
            in->replay_failures = 0;
            spool_pop(in->o.spool);
        } else if (status == IOC_EINVAL && ++in->replay_failures >= POISON_ATTEMPTS) {
            log_error("ingest", "event=replay_rejected samples=%u attempts=%d error=\"%s\" "
                      "action=skip", n, in->replay_failures, ioc_strerror(status));
            in->st.samples_dropped_full += n;
            in->replay_failures = 0;
            spool_pop(in->o.spool);
        } else {
            uv_timer_start(&in->retry_timer, on_retry_timer, COMMIT_RETRY_MS, 0);
        }
    }
    /* Group commit: what arrived for waiters during this commit goes out as one batch now. */
    if (in->flush_wanted && !in->qcount) {
        in->flush_wanted = false;
        seal(in);
    }
    notify_waiters(in);
    check_drained(in);
    pump(in);
}

static void on_peek(void *ud, int status, const void *rec, size_t len)
{
    ingest_t *in = ud;
    in->peeking = false;
    if (status == IOC_ENOTFOUND)
        return;
    if (status != IOC_OK) {
        log_error("ingest", "event=spool_read_failed error=\"%s\"", ioc_strerror(status));
        uv_timer_start(&in->retry_timer, on_retry_timer, COMMIT_RETRY_MS, 0);
        return;
    }
    batch_t *b = NULL;
    if (batch_decode(rec, len, &b) != IOC_OK) {
        log_error("ingest", "event=spool_record_corrupt bytes=%zu action=skip", len);
        spool_pop(in->o.spool);
        pump(in);
        return;
    }
    if (in->draining || !in->o.store || !store_idle(in->o.store)) {
        batch_free(b); /* not popped: it is read again later */
        return;
    }
    in->replay = b;
    in->from_spool = true;
    in->committing = true;
    int rc = store_commit(in->o.store, b, on_commit, in);
    if (rc != IOC_OK) {
        in->committing = false;
        in->replay = NULL;
        if (rc == IOC_EINVAL) { /* never storable (a timestamp out of range): skip it */
            log_error("ingest", "event=replay_rejected samples=%u error=\"%s\" action=skip",
                      b->nsamples, ioc_strerror(rc));
            in->st.samples_dropped_full += b->nsamples;
            spool_pop(in->o.spool);
            pump(in);
        }
        batch_free(b);
    }
}

static void pump(ingest_t *in)
{
    if (in->committing || in->peeking || !in->o.store || !store_idle(in->o.store))
        return;
    if (in->qcount) {
        in->from_spool = false;
        in->committing = true;
        if (store_commit(in->o.store, in->queue[in->qhead], on_commit, in) != IOC_OK)
            in->committing = false;
        return;
    }
    if (!in->draining && spool_records(in->o.spool) > in->sf_count) {
        in->peeking = true;
        if (spool_peek(in->o.spool, on_peek, in) != IOC_OK)
            in->peeking = false;
    }
}

int ingest_create(uv_loop_t *loop, const ingest_opts_t *opts, ingest_t **out)
{
    ingest_t *in = calloc(1, sizeof *in);
    if (!in)
        return IOC_ENOMEM;
    in->loop = loop;
    in->o = *opts;
    if (!in->o.batch_max_samples)
        in->o.batch_max_samples = 20000;
    if (!in->o.batch_max_delay_ms)
        in->o.batch_max_delay_ms = 200;
    if (!in->o.queue_max_batches)
        in->o.queue_max_batches = 16;
    if (!in->o.max_series)
        in->o.max_series = 1000000;
    if (!in->o.max_spool_inflight)
        in->o.max_spool_inflight = 8;
    in->sf_cap = in->o.max_spool_inflight + in->o.queue_max_batches + 1;
    in->queue = calloc(in->o.queue_max_batches, sizeof *in->queue);
    in->queue_seq = calloc(in->o.queue_max_batches, sizeof *in->queue_seq);
    in->spool_fifo = calloc(in->sf_cap, sizeof *in->spool_fifo);
    if (!in->queue || !in->queue_seq || !in->spool_fifo) {
        free(in->queue);
        free(in->queue_seq);
        free(in->spool_fifo);
        free(in);
        return IOC_ENOMEM;
    }
    in->open_seq = 1;
    series_registry_init(&in->reg, in->o.max_series);
    uv_timer_init(loop, &in->seal_timer);
    uv_timer_init(loop, &in->retry_timer);
    uv_timer_init(loop, &in->drain_timer);
    in->seal_timer.data = in->retry_timer.data = in->drain_timer.data = in;
    *out = in;
    return IOC_OK;
}

/* Adds one valid, interned sample to the open batch. */
static int add_sample(ingest_t *in, series_t *se, int64_t ts_us, double value)
{
    if (!in->open) {
        in->open = batch_new(batch_next_id());
        if (!in->open)
            return IOC_ENOMEM;
        uv_timer_start(&in->seal_timer, on_seal_timer, in->o.batch_max_delay_ms, 0);
    }
    if (se->batch_gen != in->open_seq) {
        int idx = batch_add_series(in->open, se->metric, se->tags_json);
        if (idx < 0)
            return idx;
        se->batch_gen = in->open_seq;
        se->batch_index = (uint32_t)idx;
    }
    int rc = batch_add_sample(in->open, se->batch_index, ts_us, value);
    if (rc == IOC_OK && in->open->nsamples >= in->o.batch_max_samples)
        seal(in);
    return rc;
}

int ingest_submit(ingest_t *in, const ioc_sample_t *samples, size_t n, int64_t now_us, char *err,
                  size_t errlen)
{
    if (in->draining)
        return IOC_ECLOSED;
    /* All or nothing: refuse before taking any sample if a seal could not be placed. */
    size_t room = in->o.batch_max_samples - (in->open ? in->open->nsamples : 0);
    if (n >= room && !can_seal(in)) {
        in->st.samples_dropped_full += n;
        return IOC_EFULL;
    }
    for (size_t i = 0; i < n; i++) {
        series_t *se;
        int64_t ts = samples[i].ts_us ? samples[i].ts_us : now_us;
        int64_t day = store_day_of_us(ts);
        if (day < STORE_DAY_MIN || day > STORE_DAY_MAX) {
            snprintf(err, errlen, "timestamp %lld us is out of range (years 1000 to 9999)",
                     (long long)ts);
            in->st.samples_invalid++;
            return IOC_EINVAL;
        }
        int rc = series_intern(&in->reg, &samples[i], &se, err, errlen);
        if (rc == IOC_EFULL) {
            in->st.samples_dropped_series++;
            continue;
        }
        if (rc) {
            in->st.samples_invalid++;
            return rc;
        }
        in->st.samples_received++;
        rc = add_sample(in, se, ts, samples[i].value);
        if (rc == IOC_OK && in->o.on_sample)
            in->o.on_sample(in->o.on_sample_ud, se, ts, samples[i].value);
        if (rc)
            return rc;
    }
    return IOC_OK;
}

uint64_t ingest_mark(const ingest_t *in)
{
    return in->open_seq;
}

int ingest_when_durable(ingest_t *in, uint64_t mark, ingest_durable_cb cb, void *ud)
{
    waiter_t *w = calloc(1, sizeof *w);
    if (!w)
        return IOC_ENOMEM;
    w->start_seq = mark;
    w->target_seq = in->open && in->open->nsamples ? in->open_seq : in->open_seq - 1;
    w->cb = cb;
    w->ud = ud;
    w->next = in->waiters;
    in->waiters = w;
    /* While a commit is in flight, keep filling the open batch: it is sealed when the commit
     * ends (group commit), so concurrent writers share one transaction instead of queueing
     * many small ones. Otherwise seal now so the waiter does not wait for the batch timer. */
    if (wants_queue(in) && (in->committing || in->qcount))
        in->flush_wanted = true;
    else
        seal(in);
    notify_waiters(in);
    return IOC_OK;
}

void ingest_set_store(ingest_t *in, store_t *store)
{
    in->o.store = store;
    pump(in);
}

void ingest_store_state(ingest_t *in, bool up)
{
    if (up)
        pump(in);
}

static void on_drain_timeout(uv_timer_t *t)
{
    ingest_t *in = t->data;
    log_warn("ingest", "event=drain_timeout queued_batches=%u action=spool", in->qcount);
    queue_to_spool(in);
    if (in->committing) {
        /* The store hangs on a commit: spool its batch too (a replay is still in the spool)
         * and stop waiting. Whichever copy PostgreSQL gets second is skipped by batch id. */
        in->abandoned = true;
        if (!in->from_spool)
            spool_copy(in, in->queue[in->qhead], in->queue_seq[in->qhead]);
    }
    check_drained(in);
}

static void check_drained(ingest_t *in)
{
    if (!in->draining || !in->drain_done)
        return;
    if ((!in->abandoned && (in->qcount || in->committing)) || in->sf_count || in->peeking)
        return;
    uv_timer_stop(&in->drain_timer);
    void (*done)(void *) = in->drain_done;
    in->drain_done = NULL;
    done(in->drain_ud);
}

void ingest_drain(ingest_t *in, uint64_t timeout_ms, void (*done)(void *ud), void *ud)
{
    seal(in);
    in->draining = true;
    in->drain_done = done;
    in->drain_ud = ud;
    uv_timer_stop(&in->retry_timer);
    if (!in->o.store || !store_up(in->o.store))
        queue_to_spool(in);
    else
        uv_timer_start(&in->drain_timer, on_drain_timeout, timeout_ms, 0);
    check_drained(in);
}

static void on_handle_closed(uv_handle_t *h)
{
    ingest_t *in = h->data;
    if (--in->closing_handles == 0) {
        free(in->queue);
        free(in->queue_seq);
        free(in->spool_fifo);
        free(in);
    }
}

void ingest_free(ingest_t *in)
{
    while (in->waiters) {
        waiter_t *w = in->waiters;
        in->waiters = w->next;
        w->cb(w->ud, IOC_ECLOSED);
        free(w);
    }
    while (in->qcount)
        queue_pop(in);
    batch_free(in->open);
    batch_free(in->replay);
    series_registry_free(&in->reg);
    in->closing_handles = 3;
    uv_close((uv_handle_t *)&in->seal_timer, on_handle_closed);
    uv_close((uv_handle_t *)&in->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&in->drain_timer, on_handle_closed);
}

void ingest_get_stats(const ingest_t *in, ingest_stats_t *out)
{
    *out = in->st;
    out->queue_batches = in->qcount;
    out->queue_samples = in->qsamples;
    out->spool_inflight = in->sf_count;
    out->series = in->reg.count;
}
